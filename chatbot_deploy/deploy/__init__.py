"""Deploy engine: packaging, layer, site, and the resource steps of `chatbot-deploy up`."""
