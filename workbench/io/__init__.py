"""Reading and writing datasets: format detection, normalisation, streaming readers, atomic writers."""
