"""dexndm.residual: the residual policy (stage 5 of the pipeline).

- :mod:`~dexndm.residual.model`: ``pi_res(o_t, a_t)``, a bounded joint-target correction.
- :mod:`~dexndm.residual.rollout`: the training graph through the frozen dynamics model, and how
  its window is formed (teacher forced or closed loop; scored against ``q^sim`` or the sim model).
- :mod:`~dexndm.residual.train`: ``fit_residual`` (best eval, checkpoints, resume, TensorBoard).
- :mod:`~dexndm.residual.export`: base + residual as one ONNX graph with a deployment sidecar.
- :mod:`~dexndm.residual.deploy`: runners for ``load_policy`` (residual checkpoints, exported graphs).
- :mod:`~dexndm.residual.sim2sim`: the pipeline against an injected gap in the training sim.
- :mod:`~dexndm.residual.cli`: ``dexndm train residual``.
"""
