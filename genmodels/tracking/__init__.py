"""MLflow adapter: the only package that imports mlflow."""
