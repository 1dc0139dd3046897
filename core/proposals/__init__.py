"""Mask proposals from image labels: ISU-GAN (paper 003), its plain-CycleGAN ablation and
a nearest-neighbour comparator propose a mask for every defective image.

Writing: :func:`proposer_job` (a job; :class:`ProposerRequest` says what to train).
Reading (the CLI, the benchmark, the editor's review)::

    proposals = load_proposals(project)            # the newest proposer run (or a run / its id)
    for row in proposals.ranked(min_score=s):      # images whose proposal is not empty, best first
        proposal = load_proposal(project, proposals, row.image_id)
        proposal.mask()                            # bool (H, W) at the image's size, the run's cut
        proposal.mask(cut=0.3)                     # ... at another cut (a slider)
        proposal.repair, proposal.difference       # uint8 / float32 (H, W), the image's size

Importing this package does not import torch.
"""

from core.proposals.job import ProposerResult, proposer_job
from core.proposals.masks import ProposalRule
from core.proposals.request import METHODS, PRESETS, SCOPES, ProposerRequest
from core.proposals.store import (
    COLUMNS,
    Proposal,
    ProposalRow,
    ProposalSet,
    load_proposal,
    load_proposals,
    proposer_runs,
)

__all__ = ["COLUMNS", "METHODS", "PRESETS", "SCOPES", "Proposal", "ProposalRow", "ProposalRule", "ProposalSet",
           "ProposerRequest", "ProposerResult", "load_proposal", "load_proposals", "proposer_job", "proposer_runs"]
