"""The engine's runs: each turns a spec into images on the warm pipeline through ``Engine``'s
public methods (``prepare``, ``denoise``) and never imports another run. Steps several runs
share live in ``steps`` (noise, step callbacks) and ``edit_pass`` (one img2img or inpaint
pass, for the edit runs); results are assembled by ``engine.results``."""
