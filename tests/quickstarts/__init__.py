"""Each quickstart page applied to what its framework's own starter makes, built from the page's own
snippets and served by the framework's own development server. The pages are read with Sybil's
lexer, the one that runs their snippets as tests."""

import pytest

pytest.importorskip("sybil")
