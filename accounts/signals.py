"""Domain events of accounts. Receivers run after the plan change has committed.

``plan_upgraded(user, changed_at)``: the user became premium (the archive app restores
their archived results). ``plan_downgraded(user, changed_at)``: the user went back to free
(the archive app schedules their hot results for archiving).
"""

from django.dispatch import Signal

plan_upgraded = Signal()
plan_downgraded = Signal()
