"""`chatbot-deploy local`: the real handlers behind an HTTP API emulator, on one port."""
