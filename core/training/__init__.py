"""Training jobs: contrastive pretraining now; the classifier and seg-dec follow."""

from core.training.pretrain import PretrainRequest, PretrainResult, load_embeddings, pretrain_job

__all__ = ["PretrainRequest", "PretrainResult", "load_embeddings", "pretrain_job"]
