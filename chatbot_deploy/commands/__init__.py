"""One module per CLI command; :mod:`chatbot_deploy.cli` registers them."""
