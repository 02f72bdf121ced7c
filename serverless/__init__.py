"""Serverless adapter: `serverless.lambda_function.lambda_handler` for AWS Lambda behind API Gateway."""
