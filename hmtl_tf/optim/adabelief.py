"""AdaBelief for Keras 3 (Zhuang et al., NeurIPS 2020, Algorithm 2; adabelief-pytorch 0.2.0 semantics).

Per variable, at step t = iterations + 1 with gradient g:

    m_t = b1 m + (1 - b1) g
    s_t = b2 s + (1 - b2) (g - m_t)^2 + eps          (eps inside the second moment)
    theta -= lr * m_t / (1 - b1^t) / (sqrt(s_t / (1 - b2^t)) + eps)

- ``weight_decay``: decoupled (``weight_decouple=True``): ``theta *= 1 - lr * wd`` before the update
  (Keras' base ``_apply_weight_decay``, which is also distribution-aware).
- ``amsgrad``: ``s_max = max(s_max, s_t)`` replaces ``s_t`` in the denominator (also when rectified; the
  PyTorch 0.2.0 code ignores the max in its rectified branch, adabelief-tf 0.2 uses it as we do).
- ``rectify`` (RAdam): rho_inf = 2/(1-b2) - 1, rho_t = rho_inf - 2 t b2^t / (1 - b2^t). When rho_t >= 5
  (the official threshold, ``N_sma >= 5``): ``theta -= lr * r_t sqrt(1-b2^t)/(1-b1^t) * m_t/(sqrt(s_t)+eps)``
  with r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t)), exactly as the official
  code (eps outside the bias correction there). When rho_t < 5: ``degenerated_to_sgd=True`` (official
  default) takes the SGD-with-momentum step ``theta -= lr * m_t / (1 - b1^t)``; False skips the update.
  With b2 = 0.999 steps 1-5 are SGD steps, rectification starts at step 6.
Step-dependent scalars are computed in float64 (rho_t cancels catastrophically in float32).
"""
from __future__ import annotations

import keras
from keras import ops

RHO_THRESHOLD = 5.0  # adabelief-pytorch 0.2.0: ``if N_sma >= 5``


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
    """AdaBelief (see the module docstring); defaults are adabelief-pytorch 0.2.0's except ``rectify``."""

    def __init__(
        self,
        learning_rate=1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-16,
        weight_decay=0.0,
        rectify: bool = False,
        amsgrad: bool = False,
        degenerated_to_sgd: bool = True,
        name: str = "adabelief",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay or None, name=name, **kwargs)
        if not (0.0 <= beta_1 < 1.0 and 0.0 <= beta_2 < 1.0):
            raise ValueError(f"AdaBelief beta_1={beta_1}, beta_2={beta_2}: expected values in [0, 1)")
        if epsilon < 0:
            raise ValueError(f"AdaBelief epsilon={epsilon}: expected a non-negative number")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.rectify = bool(rectify)
        self.amsgrad = bool(amsgrad)
        self.degenerated_to_sgd = bool(degenerated_to_sgd)

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

        if not self.rectify:
            denom = ops.add(ops.divide(ops.sqrt(s), ops.sqrt(bc2)), eps)
            self.assign_sub(variable, ops.divide(ops.multiply(m, lr / bc1), denom))
            return
        adaptive = lr * r_t * ops.sqrt(bc2) / bc1                  # 0 while rho_t < 5
        sgd = ops.where(degenerate, lr / bc1, ops.zeros_like(lr)) if self.degenerated_to_sgd else 0.0
        step = ops.add(ops.divide(ops.multiply(m, adaptive), ops.add(ops.sqrt(s), eps)), ops.multiply(m, sgd))
        self.assign_sub(variable, step)

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
            }
        )
        return config
