"""Harnesses that drive the daemon from outside its serving path: the soak (:mod:`bridge.harness.soak`), the
bridge bench (:mod:`bridge.harness.bridge_bench`) and the end-to-end demo (:mod:`bridge.harness.demo`); their
commands (``dexbridge soak``, ``bench --bridge``, ``demo``) are registered in :mod:`bridge.commands`."""
