"""The static site of the log (`git testlog site -o DIR`): pages, SVG charts, writing DIR."""
