"""AI KINGS core: the domain, services and clients. Imports no UI, scheduler or simulator."""
