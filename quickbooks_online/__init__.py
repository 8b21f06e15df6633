"""QuickBooks Online glue: the connection and its tokens, lists, mappings and exports.

Everything goes through the real python-quickbooks and intuit-oauth clients; the endpoints
come from configuration, so the same code talks to Intuit or to the built-in sandbox.
"""
