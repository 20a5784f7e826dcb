"""ps6_policy_from_reward: alternative correct answers, typical mistakes, re-exports (see test_assignments.py)."""

from tests.assignments.stubs import raising_answers
from tests.support import reference_answer

ASSIGNMENT = "ps6_policy_from_reward"

_PL = reference_answer(ASSIGNMENT, "plackett_luce_loss")
_DPO = reference_answer(ASSIGNMENT, "dpo_loss")
_ACCURACY = reference_answer(ASSIGNMENT, "implicit_reward_accuracy")
_KL = reference_answer(ASSIGNMENT, "kl_regularized_optimum")
_PL_LOSS = "    rest = torch.stack([ranked[..., i:].logsumexp(-1) for i in range(k)], dim=-1)  # [B, K]\n    return (rest - ranked).sum(-1).mean()"
_DPO_LOSS = "    loss = -F.logsigmoid(chosen_rewards - rejected_rewards).mean()"
_KL_RESULT = "    return torch.softmax(ref.log() + r / beta, dim=-1)"


def _replace(source: str, old: str, new: str) -> str:
    """``source`` with ``old`` replaced; fails loudly when the reference answer no longer contains ``old``."""
    if old not in source:
        raise AssertionError(f"the reference answer no longer contains {old!r}; update the case")
    return source.replace(old, new)


ALTERNATIVES = {
    "logcumsumexp_pairwise_dpo_manual_softmax": {
        "plackett_luce_loss": """
def plackett_luce_loss(rewards, ranking):
    r = torch.as_tensor(rewards).float()
    order = torch.as_tensor(ranking)
    if order.shape != r.shape or r.dim() not in (1, 2):
        raise ValueError("shape mismatch")
    k = r.shape[-1]
    if not (order.sort(-1).values == torch.arange(k)).all():
        raise ValueError("not a permutation")
    ranked = torch.take_along_dim(r, order, dim=-1)
    tail = ranked.flip(-1).logcumsumexp(-1).flip(-1)  # logsumexp of the rewards still in play
    return (tail - ranked).sum(-1).mean()
""",
        "dpo_loss": """
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    if beta <= 0:
        raise ValueError("beta must be positive")
    if not (policy_chosen_logps.shape == policy_rejected_logps.shape == ref_chosen_logps.shape == ref_rejected_logps.shape):
        raise ValueError("shapes differ")
    logits = (policy_chosen_logps - policy_rejected_logps) - (ref_chosen_logps - ref_rejected_logps)
    loss = F.softplus(-beta * logits).mean()
    with torch.no_grad():
        chosen = beta * (policy_chosen_logps - ref_chosen_logps)
        rejected = beta * (policy_rejected_logps - ref_rejected_logps)
    return (loss, chosen, rejected)
""",
        "implicit_reward_accuracy": """
def implicit_reward_accuracy(chosen_rewards, rejected_rewards):
    c, r = np.asarray(chosen_rewards, dtype=float), np.asarray(rejected_rewards, dtype=float)
    if c.shape != r.shape:
        raise ValueError("shapes differ")
    return float(np.mean(c > r))
""",
        "kl_regularized_optimum": """
def kl_regularized_optimum(ref_probs, rewards, beta):
    if beta <= 0:
        raise ValueError("beta must be positive")
    ref, r = torch.as_tensor(ref_probs, dtype=torch.float64), torch.as_tensor(rewards, dtype=torch.float64)
    if ref.shape != r.shape:
        raise ValueError("shapes differ")
    if (ref < 0).any() or not torch.allclose(ref.sum(-1), torch.ones(()).double(), atol=1e-5):
        raise ValueError("ref_probs is not a distribution")
    logits = torch.log(ref) + r / beta
    p = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
    return (p / p.sum(dim=-1, keepdim=True)).float()
""",
    },
    "python_loops_k_minus_one_choices": {
        # the last choice is certain (logsumexp of one reward minus that reward is 0), so K - 1 terms suffice
        "plackett_luce_loss": """
def plackett_luce_loss(rewards, ranking):
    r = rewards if torch.is_tensor(rewards) else torch.tensor(rewards, dtype=torch.float32)
    order = ranking.tolist() if torch.is_tensor(ranking) else list(ranking)
    if list(r.shape) != list(torch.tensor(order).shape):
        raise ValueError("rewards and ranking differ in shape")
    rows, orders = (r, order) if r.dim() == 2 else (r[None], [order])
    losses = []
    for row, sigma in zip(rows, orders):
        if sorted(sigma) != list(range(len(row))):
            raise ValueError(f"not a permutation: {sigma}")
        nll = 0.0
        for i in range(len(sigma) - 1):
            nll = nll - (row[sigma[i]] - torch.logsumexp(row[sigma[i:]], dim=0))
        losses.append(nll if torch.is_tensor(nll) else torch.tensor(nll))
    return torch.stack(losses).mean()
""",
        "dpo_loss": """
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    if not beta > 0:
        raise ValueError(f"beta={beta}")
    pc, pr, rc, rr = policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps
    if pc.shape != rc.shape or pr.shape != rr.shape or pc.shape != pr.shape:
        raise ValueError("shapes differ")
    chosen_logratios, rejected_logratios = pc - rc, pr - rr
    losses = -F.logsigmoid(beta * chosen_logratios - beta * rejected_logratios)
    return losses.sum() / len(losses), (beta * chosen_logratios).detach(), (beta * rejected_logratios).detach()
""",
        "implicit_reward_accuracy": """
def implicit_reward_accuracy(chosen_rewards, rejected_rewards):
    if len(chosen_rewards) != len(rejected_rewards) or torch.as_tensor(chosen_rewards).shape != torch.as_tensor(rejected_rewards).shape:
        raise ValueError("different shapes")
    wins = sum(1 for c, r in zip(torch.as_tensor(chosen_rewards).tolist(), torch.as_tensor(rejected_rewards).tolist()) if c > r)
    return wins / len(chosen_rewards)
""",
        "kl_regularized_optimum": """
def kl_regularized_optimum(ref_probs, rewards, beta):
    if not beta > 0:
        raise ValueError("beta must be > 0")
    ref, r = torch.as_tensor(ref_probs), torch.as_tensor(rewards)
    if ref.shape != r.shape:
        raise ValueError("shape mismatch")
    if (ref < 0).any() or ((ref.sum(-1) - 1).abs() > 1e-4).any():
        raise ValueError("ref_probs must be a distribution")
    return torch.log_softmax(torch.log(ref) + r / beta, dim=-1).exp()
""",
    },
}

WRONG = {
    # test_pl_batch_value: the ranking read worst first
    "pl_ranking_reversed": {
        "plackett_luce_loss": _replace(_PL, "r.gather(-1, order)", "r.gather(-1, order.flip(-1))")
    },
    # test_pl_batch_value, K = 2: every choice normalised over all K responses (a softmax cross-entropy per position)
    "pl_normalise_over_all": {
        "plackett_luce_loss": _replace(_PL, "ranked[..., i:].logsumexp(-1)", "ranked.logsumexp(-1)")
    },
    # test_pl_batch_value: the sum over the batch, not the mean
    "pl_sum_over_batch": {
        "plackett_luce_loss": _replace(_PL, "return (rest - ranked).sum(-1).mean()", "return (rest - ranked).sum()")
    },
    # test_pl_batch_value: InstructGPT's all K-choose-2 Bradley-Terry pairs instead of the Plackett-Luce likelihood
    "pl_all_pairs_bradley_terry": {
        "plackett_luce_loss": _replace(
            _PL,
            _PL_LOSS,
            "    pairs = [-F.logsigmoid(ranked[..., i] - ranked[..., j]) for i in range(k) for j in range(i + 1, k)]\n"
            "    return torch.stack(pairs, dim=-1).sum(-1).mean()",
        )
    },
    # test_pl_batch_value: ranking read as the rank of each response, not the responses best first
    "pl_ranks_not_order": {
        "plackett_luce_loss": _replace(_PL, "r.gather(-1, order)", "r.gather(-1, order.argsort(-1))")
    },
    # test_pl_stable_for_huge_rewards: log of a cumulative sum of exp overflows
    "pl_log_cumsum_exp": {
        "plackett_luce_loss": _replace(
            _PL,
            _PL_LOSS,
            "    rest = torch.log(torch.exp(ranked).flip(-1).cumsum(-1).flip(-1))\n"
            "    return (rest - ranked).sum(-1).mean()",
        )
    },
    # test_pl_rejects_bad_input: no permutation check (a repeated index is graded as a ranking)
    "pl_no_permutation_check": {
        "plackett_luce_loss": _replace(
            _PL,
            "    if not torch.equal(order.sort(dim=-1).values, torch.arange(k).expand_as(order)):",
            "    if False:",
        )
    },
    # test_dpo_loss_value: beta multiplies the loss instead of the log-ratios
    "dpo_beta_outside": {
        "dpo_loss": _replace(
            _DPO, _DPO_LOSS, "    loss = -beta * F.logsigmoid(chosen_rewards / beta - rejected_rewards / beta).mean()"
        )
    },
    # test_dpo_loss_value, test_dpo_gradient: the reference model left out of the margin
    "dpo_without_reference": {
        "dpo_loss": _replace(
            _DPO, _DPO_LOSS, "    loss = -F.logsigmoid(beta * (policy_chosen_logps - policy_rejected_logps)).mean()"
        )
    },
    # test_dpo_implicit_rewards: the rewards keep their graph
    "dpo_rewards_not_detached": {
        "dpo_loss": _replace(
            _DPO,
            "return loss, chosen_rewards.detach(), rejected_rewards.detach()",
            "return loss, chosen_rewards, rejected_rewards",
        )
    },
    # test_dpo_stable_for_huge_log_ratios: log(sigmoid(x)) is -inf for x = -1e4
    "dpo_log_sigmoid_unstable": {
        "dpo_loss": _replace(
            _DPO, _DPO_LOSS, "    loss = -torch.log(torch.sigmoid(chosen_rewards - rejected_rewards)).mean()"
        )
    },
    # test_dpo_rejects_bad_input: beta and shapes unchecked (reference log-probs of shape [1] broadcast)
    "dpo_no_validation": {
        "dpo_loss": _replace(_DPO, "    if not beta > 0:", "    if False:").replace(
            "    if len(shapes) != 1:", "    if False:"
        )
    },
    # test_accuracy_ties_are_wrong...: >= counts ties as right
    "accuracy_ties_count_as_right": {
        "implicit_reward_accuracy": _replace(_ACCURACY, "chosen > rejected", "chosen >= rejected")
    },
    # test_accuracy_*: a 0-d tensor, not a float
    "accuracy_returns_tensor": {
        "implicit_reward_accuracy": _replace(
            _ACCURACY, "(chosen > rejected).float().mean().item()", "(chosen > rejected).float().mean()"
        )
    },
    # test_kl_stable: exp(r / beta) overflows to inf, inf / inf is nan
    "kl_exp_overflow": {
        "kl_regularized_optimum": _replace(
            _KL,
            _KL_RESULT,
            "    weights = ref * torch.exp(r / beta)\n    return weights / weights.sum(-1, keepdim=True)",
        )
    },
    # test_kl_typical: pi_ref left out (softmax of the reward alone)
    "kl_ref_not_multiplied": {"kl_regularized_optimum": _replace(_KL, "ref.log() + r / beta", "r / beta")},
    # test_kl_typical: beta multiplies the reward instead of dividing it
    "kl_beta_multiplies": {"kl_regularized_optimum": _replace(_KL, "ref.log() + r / beta", "ref.log() + r * beta")},
    # test_kl_batched...: normalised over the first dimension, not over the responses
    "kl_wrong_dimension": {"kl_regularized_optimum": _replace(_KL, "dim=-1)", "dim=0)")},
    # test_kl_rejects_bad_input: ref_probs not checked (softmax renormalises them silently)
    "kl_no_distribution_check": {
        "kl_regularized_optimum": _replace(_KL, "(ref < 0).any() or ((ref.sum(-1) - 1).abs() > 1e-4).any()", "False")
    },
    # every test: functions that only raise implement nothing (a bad-input test pays only with a right answer)
    "raise_everything": raising_answers(ASSIGNMENT),
}

REEXPORT = {
    "plackett_luce_loss": "from course_lib.training.plackett_luce import plackett_luce_loss\n",
    "dpo_loss": "from course_lib.training.dpo import dpo_loss\n",
    "implicit_reward_accuracy": "from course_lib.training.dpo import implicit_reward_accuracy\n",
    "kl_regularized_optimum": "from course_lib.training.kl_optimum import kl_regularized_optimum\n",
}
