"""AWS service components: each behaves as AWS documents, with limits from the catalog."""

from simulator.aws.api_gateway import ApiGateway
from simulator.aws.dynamodb import Table
from simulator.aws.lambda_ import LambdaFunction, LambdaService
from simulator.aws.sdk import RetryPolicy

__all__ = ["ApiGateway", "LambdaFunction", "LambdaService", "RetryPolicy", "Table"]
