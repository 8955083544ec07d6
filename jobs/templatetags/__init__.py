"""Template filters of the job pages (an interface: they format, they decide nothing)."""
