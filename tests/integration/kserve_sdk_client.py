"""Run by test_protocols.py in build/kserve-venv (the kserve SDK pins psutil<6, we pin 7): the KServe SDK's own
REST client calls our server over v1 and v2 and prints what it got back, as one JSON document.

    build/kserve-venv/bin/python tests/integration/kserve_sdk_client.py http://127.0.0.1:8080 tiny
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(base_url: str, model: str) -> dict:
    texts = ["Shares fell after the profit warning.", "The striker scored twice."]
    v1 = InferenceRESTClient(RESTConfig(protocol="v1"))
    v2 = InferenceRESTClient(RESTConfig(protocol="v2"))
    outcome = {"v1": await v1.infer(base_url, {"instances": texts}, model_name=model)}
    request = InferRequest(model, [InferInput("text", [2], "BYTES", texts)], request_id="sdk-1")
    response = await v2.infer(base_url, request, model_name=model)
    outcome["v2"] = {
        "id": response.id,
        "model_name": response.model_name,
        "outputs": {
            out.name: {"shape": out.shape, "datatype": out.datatype, "data": out.data} for out in response.outputs
        },
    }
    try:
        await v1.infer(base_url, {"instances": [42]}, model_name=model)
    except httpx.HTTPStatusError as error:
        outcome["v1_error"] = {"status": error.response.status_code, "message": str(error)}
    await v1.close()
    await v2.close()
    return outcome


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2])), default=str))
