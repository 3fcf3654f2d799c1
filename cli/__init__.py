"""Programs at the edge: the operator's commands and small servers, each in [project.scripts].

Each module parses arguments, builds the objects it needs from `core` and calls the domain;
`core` never imports from here.
"""
