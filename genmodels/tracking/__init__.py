"""MLflow adapter: the only package of the library that imports mlflow (besides it, only the
``ui`` command of ``pipelines`` does, to read the store it serves)."""
