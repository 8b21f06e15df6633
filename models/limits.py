"""Limits on what a record holds, each written once: the columns, the forms, the workflow's
checks and the QuickBooks checks import them from here."""

DOC_NUMBER_LIMIT = 21  # QuickBooks' DocNumber holds at most 21 characters
MAX_COMMITMENT_NUMBER = DOC_NUMBER_LIMIT  # a commitment number becomes the PO's DocNumber
MAX_DOC_PREFIX = 8  # a project's DocNumber prefix, put before its commitment numbers
