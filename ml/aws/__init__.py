"""The SageMaker layer: the only package that imports the SageMaker SDK."""
