//! The C# subset of APIM policy expressions: lexer, parser, checker, evaluator.
