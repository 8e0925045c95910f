"""Local mode: the product on one machine (embedded AWS, local SageMaker runner, ``dropml local``).

Cloud code never imports this package; it only adapts what AWS would do.
"""
