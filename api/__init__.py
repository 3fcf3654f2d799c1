"""The HTTP API (`aikings-api`): personal tokens over the same `core` use cases as the pages."""
