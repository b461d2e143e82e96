"""Measurement: `invoke bench`, its report, the load generator, `invoke sweep`, mutation testing."""
