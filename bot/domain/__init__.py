"""Pure domain logic: no I/O, no clocks read implicitly (time is always passed in)."""
