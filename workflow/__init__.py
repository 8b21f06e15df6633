"""The only place state changes: plain Python over the models, no request objects.

Routes parse input, then call one function here. Each function checks permission and the
current state, changes the models and commits, so one call is one transaction: it either
happens whole or raises (``PermissionDenied``, ``InvalidInput``) having changed nothing.
"""
