"""Specs + one platform environment -> the compiled artifacts, dbt profile and manifest."""

from floe.compiler.compile import CompileResult, compile_project

__all__ = ["CompileResult", "compile_project"]
