"""Developer tools: the generated docs pages (``gen_docs``) and mutation testing (``mutate``)."""
