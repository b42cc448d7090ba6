"""dexndm.collect: autonomous real-hand data collection (the paper's Chaos Box stage).

Modules: ``config`` (modes, action sources' settings, episode keys and seeds), ``sources``
(replayed policy rollouts, sine and square waves), ``hands`` (SimulatedReality worlds with the
Chaos Box, the LEAP hand), ``collector`` (the open-loop loop into an EpisodeStore), ``cli``
(``dexndm collect``).
"""
