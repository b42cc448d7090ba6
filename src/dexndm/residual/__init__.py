"""dexndm.residual"""
