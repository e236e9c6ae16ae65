"""`python -m chatbot_deploy` is the `chatbot-deploy` command."""

from chatbot_deploy.cli import main

main()
