"""AdaBelief for Keras 3 (Zhuang et al., NeurIPS 2020, Algorithm 2), two reference codes' update rules.

Common part, per variable, at step t = iterations + 1 with gradient g (b1 = 0.9, b2 = 0.999):

    m_t = b1 m + (1 - b1) g                     m_hat = m_t / (1 - b1^t)
    s_t = b2 s + (1 - b2) (g - m_t)^2 + eps     (eps inside the second moment, both codes)
    amsgrad: s_max = max(s_max, s_t) replaces s_t below
    rho_inf = 2/(1-b2) - 1,  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)   (RAdam's SMA length)
    r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))

``variant="tf"`` (default): adabelief-tf 0.2.0, ``AdaBeliefOptimizer._resource_apply_dense``
(PyPI wheel adabelief_tf-0.2.0, file adabelief_tf/AdaBelief_tf.py; 0.1.0 and 0.2.1 have the same rule). This is
what the HMTL authors ran: the first author's code (mahdip72/AffectNet-with-Self-Supervised-auxiliary-tasks,
sl_ssl_puzzle.py) calls ``adabelief_tf.AdaBeliefOptimizer(learning_rate=0.001, print_change_log=False)``, i.e.
eps = 1e-14, rectify = True, sma_threshold = 5, amsgrad = False, weight_decay = 0:

    v_hat = sqrt(s_t / (1 - b2^t))
    rectify, rho_t >= 5:  theta -= lr * r_t * m_hat / (v_hat + eps)
    rectify, rho_t <  5:  theta -= lr * m_hat                         (SGD with momentum; steps 1-5 for b2=0.999)
    no rectify:           theta -= lr * m_hat / (v_hat + eps)

``variant="pytorch"``: adabelief-pytorch 0.2.0 (``AdaBelief.step``), the rule of this module before issue 12
(older runs used it); it differs only when rectified, where eps is not bias-corrected:

    rectify, rho_t >= 5:  theta -= lr * r_t sqrt(1-b2^t)/(1-b1^t) * m_t / (sqrt(s_t) + eps)
                          (= lr r_t m_hat / (v_hat + eps / sqrt(1-b2^t)); ours uses s_max here with amsgrad,
                          the PyTorch 0.2.0 code ignores the max in its rectified branch)
    rectify, rho_t <  5:  as above (SGD with momentum)

Options of both variants:

- ``weight_decay``: ``theta -= lr * wd * theta`` on the pre-update weights, applied by Keras' base
  ``_apply_weight_decay`` (distribution-aware) before the step. adabelief-tf 0.2.0 writes it as
  ``var_t += wd * var; var -= lr * var_t`` and adabelief-pytorch 0.2.0 (weight_decouple=True) as
  ``p *= 1 - lr * wd``: the same decoupled (AdamW-style) decay, not an L2 term in the gradient.
- ``degenerated_to_sgd`` (True in both codes; adabelief-tf has no switch): False skips the update while rho_t < 5.
- Not implemented: adabelief-tf's built-in ``total_steps`` / ``warmup_proportion`` / ``min_lr`` warm-up (off by
  default, unused by the authors; ``hmtl_tf.optim.schedules.Warmup`` is ours), its legacy ``decay``, and its
  ``epsilon or 1e-7`` substitution of a zero epsilon.

Step-dependent scalars are computed in float64 (adabelief-tf computes them in the variable's dtype, float32, where
rho_t cancels catastrophically: rho_6 = 6.0005 in float32 vs 5.9942 exactly; the threshold is crossed at the same
step 6 either way).
"""
from __future__ import annotations

import keras
from keras import ops

RHO_THRESHOLD = 5.0  # adabelief-tf 0.2.0 ``sma_threshold=5.0``; adabelief-pytorch 0.2.0 ``if N_sma >= 5``
VARIANTS = ("tf", "pytorch")


def step_coefficients(step, beta_1: float, beta_2: float):
    """Float64 scalars of step ``step`` (1-based): (1 - b1^t, 1 - b2^t, rho_t, r_t); r_t is 0 when rho_t < 5."""
    t = ops.cast(step, "float64")
    bc1 = 1.0 - ops.power(ops.convert_to_tensor(beta_1, "float64"), t)
    b2_t = ops.power(ops.convert_to_tensor(beta_2, "float64"), t)
    bc2 = 1.0 - b2_t
    rho_inf = 2.0 / (1.0 - beta_2) - 1.0
    rho_t = rho_inf - 2.0 * t * b2_t / bc2
    ok = ops.greater_equal(rho_t, RHO_THRESHOLD)
    safe = ops.where(ok, rho_t, RHO_THRESHOLD)
    r_t = ops.sqrt((safe - 4.0) * (safe - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe))
    return bc1, bc2, rho_t, ops.where(ok, r_t, 0.0)


@keras.saving.register_keras_serializable(package="hmtl_tf")
class AdaBelief(keras.optimizers.Optimizer):
    """AdaBelief (see the module docstring); defaults are adabelief-tf 0.2.0's (``AdaBeliefOptimizer()``)."""

    def __init__(
        self,
        learning_rate=1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-14,
        weight_decay=0.0,
        rectify: bool = True,
        amsgrad: bool = False,
        degenerated_to_sgd: bool = True,
        variant: str = "tf",
        name: str = "adabelief",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay or None, name=name, **kwargs)
        if not (0.0 <= beta_1 < 1.0 and 0.0 <= beta_2 < 1.0):
            raise ValueError(f"AdaBelief beta_1={beta_1}, beta_2={beta_2}: expected values in [0, 1)")
        if epsilon < 0:
            raise ValueError(f"AdaBelief epsilon={epsilon}: expected a non-negative number")
        if variant not in VARIANTS:
            raise ValueError(f"AdaBelief variant={variant!r}: expected one of {', '.join(VARIANTS)}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.rectify = bool(rectify)
        self.amsgrad = bool(amsgrad)
        self.degenerated_to_sgd = bool(degenerated_to_sgd)
        self.variant = str(variant)

    def build(self, var_list):
        """First moment ``m``, belief (second moment of g - m) ``s``, and ``s_max`` for AMSGrad."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._beliefs = self.add_optimizer_variables(var_list, ["momentum", "belief"])
        if self.amsgrad:
            self._belief_maxes = self.add_optimizer_variables(var_list, "belief_max")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        g = ops.cast(gradient, dtype)
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon
        bc1, bc2, rho_t, r_t = step_coefficients(self.iterations + 1, b1, b2)
        degenerate = ops.less(rho_t, RHO_THRESHOLD)
        bc1, bc2, r_t = (ops.cast(c, dtype) for c in (bc1, bc2, r_t))
        i = self._get_variable_index(variable)
        m, s = self._momentums[i], self._beliefs[i]

        self.assign_add(m, ops.multiply(ops.subtract(g, m), 1.0 - b1))
        belief = ops.multiply(ops.square(ops.subtract(g, m)), 1.0 - b2)
        self.assign(s, ops.add(ops.add(ops.multiply(s, b2), belief), eps))
        if self.amsgrad:
            s_max = self._belief_maxes[i]
            self.assign(s_max, ops.maximum(s_max, s))
            s = s_max

        if not self.rectify:  # both codes: m_hat / (sqrt(s / bc2) + eps)
            denom = ops.add(ops.divide(ops.sqrt(s), ops.sqrt(bc2)), eps)
            self.assign_sub(variable, ops.divide(ops.multiply(m, lr / bc1), denom))
            return
        if self.variant == "tf":
            # adabelief-tf 0.2.0: tf.where(sma_t >= 5, r_t * m_corr / (sqrt(v / bc2) + eps), m_corr)
            m_hat = ops.divide(m, bc1)
            adaptive = ops.divide(ops.multiply(m_hat, r_t), ops.add(ops.sqrt(ops.divide(s, bc2)), eps))
            sgd = m_hat if self.degenerated_to_sgd else ops.zeros_like(m_hat)
            self.assign_sub(variable, ops.multiply(ops.where(degenerate, sgd, adaptive), lr))
            return
        # adabelief-pytorch 0.2.0 (the pre-issue-12 rule, kept bit-for-bit)
        adaptive = lr * r_t * ops.sqrt(bc2) / bc1                  # 0 while rho_t < 5
        sgd = ops.where(degenerate, lr / bc1, ops.zeros_like(lr)) if self.degenerated_to_sgd else 0.0
        step = ops.add(ops.divide(ops.multiply(m, adaptive), ops.add(ops.sqrt(s), eps)), ops.multiply(m, sgd))
        self.assign_sub(variable, step)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A config saved before ``variant`` existed (issue 12) was the adabelief-pytorch rule."""
        config = dict(config)
        config.setdefault("variant", "pytorch")
        return super().from_config(config, custom_objects=custom_objects)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "rectify": self.rectify,
                "amsgrad": self.amsgrad,
                "degenerated_to_sgd": self.degenerated_to_sgd,
                "variant": self.variant,
            }
        )
        return config
