"""Domain events of accounts. Receivers run inside the plan change's transaction: what they write
(through gas_site.outbox for messages) commits with the change or not at all.

``plan_upgraded(user, changed_at)``: the user became premium (the archive app restores
their archived results). ``plan_downgraded(user, changed_at)``: the user went back to free
(the archive app schedules their hot results for archiving).
"""

from django.dispatch import Signal

plan_upgraded = Signal()
plan_downgraded = Signal()
