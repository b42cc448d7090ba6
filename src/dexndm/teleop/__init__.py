"""dexndm.teleop: teleoperation and replay in the browser (``dexndm teleop``, ``dexndm view``).

Modules: ``messages`` (the websocket protocol and its schema), ``drivers`` (the training sim,
SimulatedReality, the physical hand behind one interface), ``session`` (the 20 Hz control loop and
the operator's choices), ``scene_view`` (geometry and body poses for the page), ``replay`` (stored
episodes and evaluations), ``server`` (aiohttp: the page, the websocket, a JSON API), ``cli``.
The page (``static/``) draws with three.js, bundled in ``static/vendor`` so it works offline.
"""

DEFAULT_HOST = "127.0.0.1"
"""The server binds here unless told otherwise: whoever reaches the port can move the hand."""
DEFAULT_PORT = 8765
