"""Renode-format platform files shipped with metersim: cpus/ and boards/ (.repl), scenes/ (.resc).

Imported only to locate them (metersim._resources); there is no Python code here."""
