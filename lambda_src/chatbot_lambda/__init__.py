"""Code that runs inside AWS Lambda (python3.12) and under `chatbot-deploy local` (3.11+).

Handlers: ``chatbot_lambda.login.handler``, ``chatbot_lambda.authorizer.handler`` and
``chatbot_lambda.chat.handler``. Everything else is small shared pieces they compose.
Keep imports light: the authorizer's cold start is measured.
"""
