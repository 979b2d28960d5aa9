"""Pure catalog domain: class definitions, objects, validation, events.

Nothing in this package imports web frameworks, database drivers or HTTP clients.
"""
