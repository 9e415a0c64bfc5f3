"""The Parameter space page's toy landscapes and what searching them costs."""
