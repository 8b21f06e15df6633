"""RQ jobs. Each job takes ids, never objects, and runs inside an app context (``jobs.context``)."""
