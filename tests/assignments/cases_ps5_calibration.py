"""ps5_calibration: alternative correct answers, typical mistakes, re-exports (see test_assignments.py)."""

from tests.assignments.stubs import raising_answers
from tests.support import reference_answer

ASSIGNMENT = "ps5_calibration"


_CURVE = reference_answer(ASSIGNMENT, "reliability_curve")
_TEMPERATURE = reference_answer(ASSIGNMENT, "fit_temperature")

ALTERNATIVES = {
    "digitize_and_golden_section": {
        "reliability_curve": """
def check_inputs(probs, labels):
    p = torch.as_tensor(probs, dtype=torch.float64).flatten().numpy()
    y = torch.as_tensor(labels, dtype=torch.float64).flatten().numpy()
    if len(p) == 0 or len(p) != len(y):
        raise ValueError("bad lengths")
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError("probabilities outside [0, 1]")
    return p, y


def reliability_curve(probs, labels, n_bins=10):
    p, y = check_inputs(probs, labels)
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    return [(float(p[which == b].mean()), float(y[which == b].mean()), int(np.sum(which == b)))
            for b in range(n_bins) if np.any(which == b)]


def expected_calibration_error(probs, labels, n_bins=10):
    p, _ = check_inputs(probs, labels)
    return float(sum(n * abs(a - c) for c, a, n in reliability_curve(probs, labels, n_bins)) / len(p))
""",
        "fit_temperature": """
def fit_temperature(margins, labels):
    m = np.asarray(margins, dtype=float).ravel()
    y = np.asarray(labels, dtype=float).ravel()
    if m.size == 0 or m.size != y.size:
        raise ValueError("need equal, non-zero lengths")
    f = lambda t: np.mean(np.logaddexp(0, m / math.exp(t)) - y * m / math.exp(t))
    a, b = math.log(0.01), math.log(100)
    g = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        c, d = b - g * (b - a), a + g * (b - a)
        if f(c) < f(d):
            b = d
        else:
            a = c
    return float(math.exp((a + b) / 2))
""",
    },
    "torch_optimizer_temperature": {
        "fit_temperature": """
def fit_temperature(margins, labels):
    m = torch.as_tensor(np.asarray(margins, dtype=float)).flatten()
    y = torch.as_tensor(np.asarray(labels, dtype=float)).flatten()
    if len(m) == 0 or len(m) != len(y):
        raise ValueError("need equal, non-zero lengths")
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp())
""",
        "brier_score": "def brier_score(probs, labels):\n    p, y = check_inputs(probs, labels)\n    return float(((p - y) ** 2).sum() / len(p))\n",
    },
}

WRONG = {
    # test_ece_weights_bins_by_size: plain mean over bins
    "unweighted_bins": {
        "reliability_curve": _CURVE.replace(
            "return float(sum(count / n * abs(acc - conf) for conf, acc, count in curve))",
            "return float(np.mean([abs(acc - conf) for conf, acc, count in curve]))",
        )
    },
    # test_curve_edges: 1.0 falls outside the last bin and is dropped
    "drops_one": {
        "reliability_curve": _CURVE.replace(
            "np.minimum((p * n_bins).astype(int), n_bins - 1)", "(p * n_bins).astype(int)"
        )
    },
    # test_curve_edges: empty bins reported with count 0
    "keeps_empty_bins": {
        "reliability_curve": _CURVE.replace(
            "        if inside.any():\n            curve.append((float(p[inside].mean()), float(y[inside].mean()), int(inside.sum())))",
            "        curve.append((float(p[inside].mean()) if inside.any() else 0.0, float(y[inside].mean()) if inside.any() else 0.0, int(inside.sum())))",
        )
    },
    # test_ece_rejects_bad_input: no range check
    "no_range_check": {"reliability_curve": _CURVE.replace("np.any((p < 0) | (p > 1)) or ", "")},
    # test_curve_typical: bin index by rounding instead of flooring
    "round_not_floor": {
        "reliability_curve": _CURVE.replace("(p * n_bins).astype(int)", "np.round(p * n_bins).astype(int)")
    },
    # test_ece_typical: accuracy of the predicted class (multi-class ECE) instead of the rate of label 1
    "ece_predicted_class_accuracy": {
        "reliability_curve": _CURVE.replace(
            """    curve = reliability_curve(probs, labels, n_bins)
    n = sum(count for _, _, count in curve)
    return float(sum(count / n * abs(acc - conf) for conf, acc, count in curve))""",
            """    p, y = check_inputs(probs, labels)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            acc = np.mean((p[inside] >= 0.5) == (y[inside] == 1))  # fraction predicted right
            ece += inside.sum() / len(p) * abs(acc - p[inside].mean())
    return float(ece)""",
        )
    },
    # test_brier: sigmoid applied to inputs that already are probabilities (Brier "on logits")
    "brier_on_logits": {
        "brier_score": "def brier_score(probs, labels):\n    p, y = check_inputs(probs, labels)\n"
        "    return float(np.mean((1 / (1 + np.exp(-p)) - y) ** 2))\n"
    },
    # test_brier: returns a 0-d tensor, not a float
    "brier_returns_tensor": {
        "brier_score": "def brier_score(probs, labels):\n    p, y = check_inputs(probs, labels)\n"
        "    return ((torch.as_tensor(p) - torch.as_tensor(y)) ** 2).mean()\n"
    },
    # test_brier: root mean squared error
    "rmse_brier": {
        "brier_score": "def brier_score(probs, labels):\n    p, y = check_inputs(probs, labels)\n    return float(np.sqrt(np.mean((p - y) ** 2)))\n"
    },
    # test_temperature_*: multiplies instead of divides (returns 1/T)
    "inverse_temperature": {
        "fit_temperature": _TEMPERATURE.replace("z = m / math.exp(log_t)", "z = m * math.exp(log_t)")
    },
    # test_temperature_overconfident: the sign of the margin flipped (fits sigmoid(-m / T))
    "temperature_wrong_sign": {
        "fit_temperature": _TEMPERATURE.replace("z = m / math.exp(log_t)", "z = -m / math.exp(log_t)")
    },
    # test_temperature_is_positive: Newton's method on the inverse temperature 1/T, unconstrained: T < 0 possible
    "temperature_can_be_negative": {
        "fit_temperature": """
def fit_temperature(margins, labels):
    m = np.asarray(margins, dtype=float).ravel()
    y = np.asarray(labels, dtype=float).ravel()
    if m.size == 0 or m.size != y.size:
        raise ValueError("need the same positive number of margins and labels")
    beta = 0.0  # inverse temperature; Newton from 0 (all probabilities 0.5)
    for _ in range(50):
        p = 1 / (1 + np.exp(-beta * m))
        beta -= np.mean((p - y) * m) / np.mean(p * (1 - p) * m * m)
    return float(1 / beta)
"""
    },
    # test_temperature_underconfident: search only T >= 1
    "only_softening": {
        "fit_temperature": _TEMPERATURE.replace(
            "lo, hi = math.log(0.01), math.log(100.0)", "lo, hi = 0.0, math.log(100.0)"
        )
    },
    # test_temperature_*: coarse grid, no refinement (not within 1%)
    "coarse_grid": {"fit_temperature": _TEMPERATURE.replace("for _ in range(4):", "for _ in range(1):")},
    # every test: functions that only raise implement nothing (a bad-input test pays only with a right answer)
    "raise_everything": raising_answers(ASSIGNMENT),
}

REEXPORT = {
    "fit_temperature": "from course_lib.evaluation.calibration import fit_temperature\n",
    "brier_score": "from course_lib.evaluation.calibration import brier_score\n",
    "reliability_curve": "from course_lib.evaluation.calibration import expected_calibration_error, reliability_curve\n\n"
    + "\n\n".join(_CURVE.split("\n\n\n")[:1]),  # keeps its own check_inputs
}
