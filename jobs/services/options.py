"""What a job may ask of the engine beside its sources: VEP's pick options and transcript flags."""

from __future__ import annotations

import logging

from jobs.annotation.flags import FLAG_OPTIONS

logger = logging.getLogger(__name__)


PICK_CHOICES = [
    ("", "every entry (all transcripts)"),
    ("flag_pick", "all, one per variant flagged PICK=1 (--flag_pick)"),
    ("flag_pick_allele", "all, one per allele flagged PICK=1 (--flag_pick_allele)"),
    ("pick", "one per variant (--pick)"),
    ("pick_allele", "one per allele (--pick_allele)"),
    ("per_gene", "one per gene (--per_gene)"),
]
FLAG_CHOICES = [(option, f"{', '.join(columns)} (--{option})") for option, columns in FLAG_OPTIONS.items()]
