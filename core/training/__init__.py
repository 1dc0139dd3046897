"""Training jobs: contrastive pretraining, the few-label classifier, the defect detector, and the retrain pipeline."""

from core.training.classify import ClassifyRequest, ClassifyResult, classify_job, latest_pretrain_run
from core.training.pipeline import RetrainResult, retrain_job
from core.training.pretrain import PretrainRequest, PretrainResult, load_embeddings, pretrain_job
from core.training.segdec import SegDecRequest, SegDecResult, segdec_job

__all__ = [
    "ClassifyRequest", "ClassifyResult", "PretrainRequest", "PretrainResult", "RetrainResult", "classify_job",
    "SegDecRequest", "SegDecResult",
    "latest_pretrain_run", "load_embeddings", "pretrain_job", "retrain_job", "segdec_job",
]
