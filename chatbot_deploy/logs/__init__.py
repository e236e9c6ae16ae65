"""`chatbot-deploy logs`: the CloudWatch Logs of a stack's functions, merged in time order.

- :mod:`.events`: one log event, `--since` parsing, folding of Lambda's platform lines.
- :mod:`.fetch`: history (``filter_log_events`` per group, merged across groups).
- :mod:`.follow`: new events as they arrive (Live Tail, or polling when it is unavailable).
- :mod:`.render`: one coloured line per event.
"""
