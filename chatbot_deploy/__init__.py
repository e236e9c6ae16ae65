"""chatbot-deploy: a private ChatGPT-style chatbot on AWS serverless, in one command."""

__version__ = "0.1.0"
