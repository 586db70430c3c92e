"""DVC stage entry points and the ``genmodels`` CLI: thin glue over the library."""
