"""What the purchase system does: each module one part of the lifecycle, its SQL beside it.

Every operation runs inside ``unit_of_work.run``: one transaction, its refusals as typed
``Refusal`` values (never half-written rows), an audit event either way.
"""
