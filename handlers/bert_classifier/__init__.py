"""The serving core: load a BERT-family sequence classifier and answer classification requests.

Nothing in this package imports TorchServe; the TorchServe handler, the SageMaker `inference.py` and the
Lambda handler are thin adapters around `InferenceService`.
"""
