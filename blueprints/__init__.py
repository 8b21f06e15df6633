"""Thin routes, one package per tool: parse input, call workflow/, render a page or a partial."""
