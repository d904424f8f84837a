r"""A classifier of real data that judges generated samples: confidence, classes, features."""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
import torch

from .._validation import require_in_interval, require_labels, require_points, require_positive
from ._distances import frechet_distance
from ._modes import class_coverage

__all__ = ["LogisticClassifier", "SampleQuality", "sample_quality"]


class LogisticClassifier:
    r"""Multinomial logistic regression, fitted to labelled data when it is made.

    The model is $p(k \mid x) = e^{\mathrm{logit}_k(x)} / \sum_j e^{\mathrm{logit}_j(x)}$
    with one affine logit per class, $\mathrm{logit}_k(x) = \theta_k^\top x + \theta_{k0}$,
    fitted by minimising the summed cross-entropy plus the penalty
    $\tfrac{\lambda_\theta}{2}\sum_k \lVert\theta_k\rVert^2$ (scikit-learn's
    ``LogisticRegression`` with $C = 1/\lambda_\theta$, solved by L-BFGS: deterministic,
    no random draw). On the
    training digits it takes about a second and classifies about 98% of the held-out
    digits correctly. It then judges generated images: how confidently it classifies
    them (`confidence`), which class each is (`predict`, for `class_histogram` and
    `class_coverage`), and its logits as the features of a Fréchet distance
    (`logits`, for `frechet_distance`); `sample_quality` makes the three measures at once.

    Every method takes points ``(N, d)`` on any device and answers on that device;
    the fitting and the predictions run in scikit-learn, on the CPU.

    Parameters
    ----------
    x
        Training points, shape ``(N, d)``.
    labels
        Their classes, integers in ``0 .. n_classes - 1``, shape ``(N,)``; every class
        must occur.
    n_classes
        $K$; by default the largest label plus one.
    regularization
        $\lambda_\theta > 0$.

    Examples
    --------
    >>> from ebm_book.datasets import digits
    >>> classifier = LogisticClassifier(*digits("train"))
    >>> round(classifier.accuracy(*digits("test")), 3)
    0.981
    """

    def __init__(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int | None = None,
        regularization: float = 1.0,
    ) -> None:
        require_points(x)
        if n_classes is None:  # first check that they are integers, then count them
            require_labels(labels, sys.maxsize, len(x))
            n_classes = int(labels.max()) + 1
        require_labels(labels, n_classes, len(x))
        present = torch.bincount(labels.cpu(), minlength=n_classes)
        if n_classes < 2 or (present == 0).any():
            missing = (present == 0).nonzero().flatten().tolist()
            raise ValueError(
                f"labels must contain every class 0 .. {n_classes - 1}, at least two; "
                f"missing: {missing}."
            )
        strength = require_positive(regularization, "regularization")
        from sklearn.linear_model import LogisticRegression  # a second to import: only if used

        self.n_classes, self.dim = n_classes, x.shape[1]
        self._model = LogisticRegression(C=1 / strength, max_iter=2000)
        self._model.fit(_numpy(x), labels.cpu().numpy())

    def _points(self, x: torch.Tensor) -> np.ndarray:
        return _numpy(require_points(x, self.dim))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        r"""The logits $\mathrm{logit}_k(x)$, shape ``(N, K)``: the classifier's features of ``x``."""
        return _tensor(self._model.decision_function(self._points(x)), x)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        r"""$p(k \mid x)$ for every class, shape ``(N, K)``; each row sums to one."""
        return _tensor(self._model.predict_proba(self._points(x)), x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        r"""The most probable class $\arg\max_k p(k \mid x)$, int64 of shape ``(N,)``."""
        return torch.as_tensor(self._model.predict(self._points(x)), device=x.device)

    def confidence(self, x: torch.Tensor) -> torch.Tensor:
        r"""The probability of the predicted class, $\max_k p(k \mid x)$, shape ``(N,)``."""
        return self.probabilities(x).max(dim=1).values

    def accuracy(self, x: torch.Tensor, labels: torch.Tensor) -> float:
        """The share of ``x`` classified as ``labels``: the accuracy on held-out data, or the
        agreement of class-conditional samples with the class they were drawn for."""
        require_labels(labels, self.n_classes, len(require_points(x, self.dim)))
        return (self.predict(x) == labels.to(x.device)).double().mean().item()


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def _tensor(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, device=like.device).to(like.dtype)


class SampleQuality(NamedTuple):
    """The classifier's three measures of a set of generated samples (`sample_quality`)."""

    confident: float
    """The share of samples classified with a probability above the threshold."""
    coverage: float
    """`class_coverage` of the predicted classes: 1 when every class is equally frequent."""
    frechet: float
    """`frechet_distance` between the samples' and the reference's logits."""


def sample_quality(
    samples: torch.Tensor,
    classifier: LogisticClassifier,
    reference: torch.Tensor,
    threshold: float = 0.9,
) -> SampleQuality:
    r"""How real do generated samples look to a classifier of the real data?

    Three numbers, each compared with its value for real data (``reference`` held out):

    * ``confident``: the share of samples whose predicted class has probability above
      ``threshold``; a blurred or broken digit gets no class with confidence.
    * ``coverage``: `class_coverage` of the predicted classes (mode coverage: 1 when the
      classes are equally frequent, $1/K$ when the model makes one class only).
    * ``frechet``: the `frechet_distance` between the logits of the samples and those of
      ``reference``; its floor is the value for real training data against ``reference``.

    Clip the samples to the data's range first (``samples.clamp(-1, 1)`` for
    `ebm_book.datasets.digits`), as a figure of them does: a sampler's speckle beyond the
    range is invisible in the figure but moves a linear classifier's logits.

    Examples
    --------
    Real training digits against the held-out ones: the values a model aims for.

    >>> from ebm_book.datasets import digits
    >>> (x, labels), (x_test, _) = digits("train"), digits("test")
    >>> classifier = LogisticClassifier(x, labels)
    >>> quality = sample_quality(x, classifier, x_test)
    >>> round(quality.confident, 2), round(quality.coverage, 3), round(quality.frechet, 1)
    (0.86, 1.0, 0.6)
    """
    if not isinstance(classifier, LogisticClassifier):
        raise TypeError(
            f"classifier must be a LogisticClassifier; got {type(classifier).__name__}."
        )
    require_points(samples, classifier.dim, "samples")
    require_points(reference, classifier.dim, "reference")
    threshold = require_in_interval(threshold, "threshold", 0, 1)
    confident = (classifier.confidence(samples) > threshold).double().mean().item()
    coverage = class_coverage(classifier.predict(samples), classifier.n_classes)
    frechet = frechet_distance(classifier.logits(samples), classifier.logits(reference))
    return SampleQuality(confident, coverage, frechet)
